"""Tokens: the MidiTok TSD tokenizer (the original configuration + BPE) and its grammar, which the skyline
and the melody constraint read tokens through."""
