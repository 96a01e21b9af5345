"""Pipeline: the stages of a run (prepare, teacher, students, evaluate, bundle, report) and the sweeps."""
