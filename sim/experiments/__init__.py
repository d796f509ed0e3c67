"""Running the engine many times: replications (:mod:`.replications`), comparisons under common
random numbers (:mod:`.compare`), sweep designs (:mod:`.sweep`), executors and storage; the home of
forecast, calibration and optimisation. Never imports the report or the CLI.
"""
