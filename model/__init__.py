"""Text-queried sound separation: the AudioSep network, its text encoders and checkpoints."""

from model.checkpoint import StateDictMismatch, load_audiosep_resunet, load_checkpoint, save_checkpoint
from model.chunking import Chunking
from model.encoders.text import MiniLMEncoder, TextEncoder
from model.files import MissingModelFile
from model.resunet import PRESETS, ResUNet, ResUNetConfig
from model.separator import QueryByExampleUnavailable, Separator, joint_condition

__all__ = [
    "PRESETS",
    "Chunking",
    "MiniLMEncoder",
    "MissingModelFile",
    "QueryByExampleUnavailable",
    "ResUNet",
    "ResUNetConfig",
    "Separator",
    "StateDictMismatch",
    "TextEncoder",
    "joint_condition",
    "load_audiosep_resunet",
    "load_checkpoint",
    "save_checkpoint",
]
