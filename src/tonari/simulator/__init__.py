"""Economics and the what-if simulator: replay order history through a proposed programme in
memory with the pure rules engine, compare it with a baseline, and report points liability."""
