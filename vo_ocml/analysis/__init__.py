"""Looking at a membership result: summary, King profile, validation, plots and reports."""
