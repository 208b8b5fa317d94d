"""One exception type for bad input: the CLI prints its message as one line and exits 2."""


class InputError(Exception):
    """Bad user input (a file, a CSV, a dataset). ``str(err)`` is one line naming the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
