"""Dataset contracts: header alias tables, pandera models and validation rule ids."""
