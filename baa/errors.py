"""One exception type for bad input: the CLI prints its message as one line and exits 2."""


class InputError(Exception):
    """Bad user input (a file, a CSV, a dataset). ``str(err)`` is one line naming the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def one_line(e: BaseException) -> str:
    """Library messages can span lines (pydicom lists every plugin); InputError is one line."""
    return " ".join(str(e).split())
