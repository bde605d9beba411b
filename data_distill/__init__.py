"""data_distill — see DESIGN.md; built in a later issue."""
