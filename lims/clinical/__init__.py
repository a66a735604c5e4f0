"""Clinical data: EDC import, derived endpoints, QoL, toxicity, data quality and the participant timeline."""
