"""Typed, validated inputs (pydantic v2). The only place where input is checked."""
