"""On-call schedules: rotations as layers, overrides, and who is on call when.

``model`` holds the values, ``times`` the local-time rules, ``oncall`` the pure computation.
"""
