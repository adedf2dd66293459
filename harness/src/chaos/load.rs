//! Load with correctness: N concurrent full speaking sessions.
