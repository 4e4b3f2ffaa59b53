//! `TaskFs`: the task an agent is given, its status and its result.
