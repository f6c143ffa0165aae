"""Query encoders: text (MiniLM for the bundled model, CLAP's text tower for AudioSep) and audio
(CLAP's audio tower, or the bundled model's small query-by-example network)."""
