"""Data sharing: datasets, grant requests, grants, governed reads and the access trail.

The public surface is :mod:`ledger.sharing.service`; :mod:`ledger.sharing.model` holds the
vocabulary (sharing classes, purposes, decisions, grant states) and the errors.
"""
