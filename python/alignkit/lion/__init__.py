"""Lion: adversarial distillation of a student model from a teacher (EMNLP 2023)."""
