//! `LogsFs`: what an agent printed and the structured events of its run.
