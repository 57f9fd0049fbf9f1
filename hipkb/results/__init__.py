"""From a run's record to what users read: result data, next questions,
partial matches, HOW / WHY NOT explanations, comparisons and the interview."""
