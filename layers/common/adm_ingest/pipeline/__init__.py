"""The ingestion pipeline: routing, the splitter, chunk pointers, the worker and the dead-letter
recorder. Handlers in ``functions/`` are thin wrappers over these modules."""
