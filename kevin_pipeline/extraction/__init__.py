"""Extraction: a transcript (+ title, description) -> the calls said in it, as mentions. One port
(`Extractor`), two implementations: the offline rules (default, deterministic, no model download)
and an LLM through pydantic-ai (production). `evaluate` scores either against a labelled set."""
