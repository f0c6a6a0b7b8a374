"""The playground's engine: models, data, the training stages, jobs, runs, adapters and generation.

Importable without Gradio. `python -m trainers --help` for the command line.
"""
