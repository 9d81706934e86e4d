"""Evaluation: metrics of a harmonization, key finding, the style judge, the rule-based baseline,
per-composer perplexity, the Bach chorale benchmark and its report."""
