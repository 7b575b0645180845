"""Tests for cep.connectors."""
