"""driftline's pure core: plain Python on plain values, no broker, no Redis.

Agents and replay call the very same functions, so a backtest gives the live numbers.
"""
