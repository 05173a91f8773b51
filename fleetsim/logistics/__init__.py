"""Logistics: networks for ground and sea vehicles, orders, solvers."""
