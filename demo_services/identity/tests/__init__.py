"""Tests of the identity demo service."""
