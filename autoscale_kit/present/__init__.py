"""What a person sees: figures, widgets, the report folder, and a mixture exported for trainers."""
