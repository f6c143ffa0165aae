"""Everything that makes the bundled model and measures it, kept out of the serving package:
the corpus (`training.corpus`), the training scripts (`training.train`, `training.train_query_audio`,
sharing `training.loop`) and the quality evaluation (`training.quality`)."""
