"""Xinchuang (信创) migration planning: which systems move to which domestic pool, at least cost, in waves."""
