//! Seed 002 part 2: the Harbor-style browse API.
