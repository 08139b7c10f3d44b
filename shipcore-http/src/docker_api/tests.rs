//! Tests of the Docker API over fake engines.
