"""What a person does with the app, without Qt: open a profile, run a screening.

The windows render these workflows and forward what the person does; the command line uses
the same ones. Nothing here imports Qt (an import contract keeps it so), and the tests drive
it without a QApplication. Slow steps are returned as jobs (plain callables) for the caller
to run where it likes: the windows on their worker thread, the command line in line.
"""
