"""Offline evaluation: metrics of a harmonization, the style judge, the real-or-generated judge, the
rule-based baseline, per-composer perplexity, the Bach chorale benchmark and its report. The music theory
they read (voice leading, cadences, ...) is ``styletransfer/analysis/``."""
