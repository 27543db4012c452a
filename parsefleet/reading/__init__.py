"""Reading the index back: run state and reports, through the SQL files beside this package."""
