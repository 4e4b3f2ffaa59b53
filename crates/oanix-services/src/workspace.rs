//! `WorkspaceFs`: a real directory, escape-proof.
