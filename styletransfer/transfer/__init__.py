"""Transfer: a melody in, an accompanied piece out. The sampler (KV cache), the melody constraint, windows
over long melodies, the ranking of candidates, and the pipeline from a melody file to the written files."""
