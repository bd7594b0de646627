"""Plain Python behind the Dagster assets: no dagster imports here."""
