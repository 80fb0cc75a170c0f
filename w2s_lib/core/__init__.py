"""Infrastructure: configs, cached runs, paths, errors, process knobs, the hub gate."""
