"""Real-world state around the engine: snapshots of today's open caseload and absences, and
case-event logs (reading, checking, writing), and the engine's initial state built from them.

Sits above the engine and below experiments (forecast, calibration, back-test).
"""
