"""Provenance: dvc.yaml generated from the Snakemake workflow."""
