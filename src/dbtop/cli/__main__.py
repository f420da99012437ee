from dbtop.cli import main

raise SystemExit(main())
