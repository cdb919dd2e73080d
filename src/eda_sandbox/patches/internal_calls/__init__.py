"""Patches to the boto clients LocalStack's services use to call each other."""
