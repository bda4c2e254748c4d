// Criterion bench placeholder: filled in by the module's implementation.
fn main() {}
