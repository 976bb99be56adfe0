"""Local tooling for adm-ingest: the command line, the ADM sandbox and the local stack.

Never shipped to AWS; imports the runtime library, never the other way round."""
