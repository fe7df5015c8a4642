package main

// builtinExample is the run lorafn run does without arguments.
func builtinExample() (runSource, error) {
	return runSource{}, usageError{"no built-in example in this build yet: give --base and --data"}
}
