"""Backends that consume NIR graphs: event (reference), torch (bit-accurate batched), constraints."""
