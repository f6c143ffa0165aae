"""Random English sentences from templates and word lists, for the speech synthesisers."""

from __future__ import annotations

import numpy as np

PEOPLE = (
    "my neighbour", "the teacher", "a young doctor", "our manager", "the old fisherman",
    "my sister", "his brother", "the driver", "a tired student", "the baker", "her grandmother",
    "the new engineer", "a quiet farmer", "the mayor", "my best friend", "the captain",
)
PLACES = (
    "the station", "the market", "the library", "the harbour", "the hospital", "the old bridge",
    "the park", "the museum", "the airport", "the village square", "the school", "the garden",
    "the office", "the beach", "the mountain road", "the city centre",
)
THINGS = (
    "a red umbrella", "the morning paper", "two cups of coffee", "a box of apples", "the keys",
    "an old map", "a heavy suitcase", "fresh bread", "the blue bicycle", "a letter", "some flowers",
    "a broken clock", "the tickets", "a wooden chair", "the little dog", "a bag of rice",
)
VERBS_PAST = (
    "found", "carried", "bought", "forgot", "painted", "repaired", "sold", "borrowed", "lost",
    "cleaned", "brought", "ordered", "opened", "dropped", "moved", "checked",
)
TIMES = (
    "yesterday", "this morning", "last week", "on Monday", "after lunch", "before sunrise",
    "at seven o'clock", "in the evening", "two days ago", "during the storm", "on Friday night",
    "early in the spring", "at noon", "last summer",
)
ADJECTIVES = (
    "cold", "bright", "quiet", "busy", "strange", "beautiful", "noisy", "warm", "dark", "empty",
    "crowded", "lovely", "windy", "peaceful",
)
WEATHER = ("rain", "snow", "sunshine", "strong winds", "fog", "thunderstorms", "clear skies")
NUMBERS = (
    "three", "seven", "twelve", "fifteen", "twenty", "forty two", "one hundred", "nine", "sixty",
    "eighteen", "two thousand", "five",
)

TEMPLATES = (
    "{person} {verb} {thing} near {place} {time}.",
    "{time}, {person} {verb} {thing} and walked to {place}.",
    "Did {person} really go to {place} {time}?",
    "The weather forecast says there will be {weather} {time}.",
    "Please remember to bring {thing} to {place}.",
    "It was a {adjective} day at {place}, and {person} was waiting for us.",
    "We counted {number} people outside {place} {time}.",
    "Attention please, the train to {place} will leave in {number} minutes.",
    "I think {person} left {thing} at {place}.",
    "Why is {place} so {adjective} {time}?",
    "According to {person}, {place} was {adjective} and full of {weather}.",
    "Could you tell {person} that {thing} is ready?",
    "There are {number} reasons to visit {place} in the {adjective} season.",
    "Welcome to {place}. Your call is important to us.",
    "Turn left after {place}, then walk for {number} minutes.",
)


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def random_sentence(rng: np.random.Generator) -> str:
    sentence = _pick(rng, TEMPLATES).format(
        person=_pick(rng, PEOPLE),
        place=_pick(rng, PLACES),
        thing=_pick(rng, THINGS),
        verb=_pick(rng, VERBS_PAST),
        time=_pick(rng, TIMES),
        adjective=_pick(rng, ADJECTIVES),
        weather=_pick(rng, WEATHER),
        number=_pick(rng, NUMBERS),
    )
    return sentence[0].upper() + sentence[1:]


def random_text(rng: np.random.Generator, sentences: int) -> str:
    return " ".join(random_sentence(rng) for _ in range(sentences))
