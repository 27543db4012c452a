-- The files whose outlines the reads bench asks for: (repository root, path) of every stored file.
SELECT repositories.root, files.path
FROM files JOIN repositories ON repositories.id = files.repository_id
ORDER BY repositories.root, files.path
