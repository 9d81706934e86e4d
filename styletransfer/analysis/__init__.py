"""Music theory a teacher reads in a harmonization, used at run time by the search and by the evaluation:
notes as arrays, beats, chords and consonance, voice leading, dissonance, phrases, cadences, and
``theory.voice_leading_metrics``, the one dict of all of them. Key finding is ``styletransfer/keys.py``
(data preparation uses it too)."""
