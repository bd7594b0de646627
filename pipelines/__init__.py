"""The Dagster layer of billrecon: definitions, assets, checks, partitions, schedules, sensors, resources."""
