"""Rendering of results: rich tables for the terminal, JSON for scripts, matplotlib figures."""
from .render import console, err_console, emit_json, json_text, reproduce_table, train_table, designs_table, bench_table, compare_table, compare_kernel_table, compare_component_table

__all__ = ["console", "err_console", "emit_json", "json_text", "reproduce_table", "train_table", "designs_table", "bench_table", "compare_table", "compare_kernel_table", "compare_component_table"]
