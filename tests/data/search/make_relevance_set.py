#!/usr/bin/env python3
"""Writes tavla's Swedish search relevance set: corpus.tsv and queries.tsv beside this script.

Every sentence below was written for tavla in the style of messages to a Swedish municipality
(none is taken from a corpus, and none from BiaSWE, DKHate, SweToxicityClassifier, BANKING77,
xSID or SweFAQ). Each topic lists sentences about it, written the way residents write: in
whatever form of the word comes to mind, as compounds, now and then with the municipality's own
word instead of theirs. A message is made of one such sentence, sometimes with a greeting, a
place and a closing line; lookalikes (`spor` beside `sopor`, `tomt` beside `tömt`) and messages
about nothing in particular are mixed in.

The judgement is the topic a message was written about: for a query about a topic, its messages
are relevant (grade 2) and messages of a closely related topic somewhat relevant (grade 1); a
sentence about two topics is marked with the second (`… @tömma`). A
query names its variant: base, inflected, folded (typed without å/ä/ö), typo (one typing error),
compound (parts of a compound, or a compound for its parts), synonym (only the organisation's
synonym list connects it), multiword (a topic and a place).

Run `python3 tests/data/search/make_relevance_set.py`; the output is deterministic.
"""

import os
import random

AREAS = ["Norrby", "Söderby", "Ekbacken", "Lindhem", "Tallåsen", "Sjöstaden", "Kvarnbyn",
         "Solhem", "Rosendal", "Ängsbo"]
STREETS = ["Björkvägen", "Storgatan", "Kyrkogatan", "Lönnstigen", "Hamngatan", "Skolvägen",
           "Ringvägen", "Parkgatan", "Torggatan", "Mossvägen", "Ängsvägen", "Bergsgatan"]
DAYS = ["i måndags", "i går", "i helgen", "i fredags", "i morse", "i förrgår"]
OPENERS = ["Hej!", "Hej kommunen!", "Hallå,", "Hejsan!", "God morgon!", "Hej,"]
CLOSERS = ["Tack på förhand!", "Mvh Anna", "Vänliga hälsningar Erik", "Tack!", "/Maria",
           "Hälsningar Ali", "Mvh Karin L", "Tacksam för svar."]
FILLERS = ["Jag har ringt flera gånger utan att få svar.",
           "Det står ingenting på hemsidan.",
           "Flera i området undrar samma sak.",
           "Det här är inte första gången.",
           "Någon som vet?",
           "Hoppas ni kan hjälpa till."]

# topic: (sentences, related topics). `$area`, `$street`, `$day` are filled in per message.
TOPICS = {
    "förskola": ([
        "När börjar inskolningen på förskolan i $area? @inskolning",
        "Finns det lediga platser på förskolorna i $area?",
        "Hur många förskolor finns det i $area egentligen?",
        "Vår förskola har stängt för personalbrist igen.",
        "Förskolans personal är fantastisk, tack för allt!",
        "Hur lång är förskolekön i $area just nu?",
        "Vi har väntat på förskoleplats i fyra månader.",
        "Kan man byta förskola mitt i terminen?",
    ], ["inskolning"]),
    "inskolning": ([
        "Hur lång är inskolningen brukar den ta?",
        "Inskolningen börjar $day men ingen har hört av sig.",
        "Kan inskolning ske på eftermiddagar för oss som jobbar?",
        "Vi var missnöjda med inskolningen på avdelningen.",
        "Får syskon vara med vid inskolningar?",
    ], ["förskola"]),
    "cykelbana": ([
        "Cykelbanan på $street har stora hål.",
        "Cykelbanorna i $area plogas alltid sist. @snöröjning",
        "Varför byggs det inga cykelbanor till $area?",
        "Någon har parkerat på cykelbanan igen vid $street.",
        "Belysningen längs cykelbanan är trasig sedan $day.",
        "Det behövs en cykelbana mellan $area och centrum.",
        "Cykelbanans kant är livsfarlig vid rondellen.",
    ], []),
    "soptunna": ([
        "Vår soptunna har inte tömts på två veckor. @tömma",
        "Soptunnan blåste omkull och locket gick sönder.",
        "Hur beställer man en större soptunna?",
        "Soptunnorna på $street står kvar på trottoaren.",
        "Vårt sopkärl är trasigt, vem lagar det?",
        "Kärlet för matavfall har en spricka. @matavfall",
        "Kan vi få ett extra sopkärl till huset?",
    ], ["sopor"]),
    "sopor": ([
        "När töms soporna på $street? @tömma",
        "Soporna har inte hämtats i $area på en månad.",
        "Det luktar sopor från återvinningen vid $street.",
        "Hushållssoporna ligger kvar efter helgen.",
        "Hur ska man sortera avfallet från renoveringen?",
        "Avfallet hämtades inte $day trots att det var tömningsdag.",
        "Hushållsavfallet har inte hämtats i $area sedan $day.",
        "Var lämnar man farligt avfall?",
    ], ["soptunna", "sophämtning"]),
    "sophämtning": ([
        "Har sophämtningen ändrats efter nyår?",
        "Sophämtningen i $area är alltid sen.",
        "När är nästa sophämtning på $street?",
        "Sopbilen körde förbi vårt hus $day utan att tömma. @tömma",
        "Varför har ni glesat ut sophämtningarna?",
    ], ["sopor"]),
    "parkeringstillstånd": ([
        "Hur ansöker jag om parkeringstillstånd för rörelsehindrade? @ansökan",
        "Mitt parkeringstillstånd gick ut $day, hur förnyar jag?",
        "Handläggningen av parkeringstillstånden tar alldeles för lång tid.",
        "Får man parkera på gatan med parkeringstillståndet?",
        "Jag behöver tillstånd för parkering vid $street.",
        "Parkeringstillståndets giltighet står inte på kortet.",
    ], ["parkering"]),
    "parkering": ([
        "Parkeringen vid simhallen är alltid full.",
        "Finns det någon parkering nära $street?",
        "Parkeringarna i $area räcker inte till.",
        "Varför har ni tagit bort parkeringen på $street?",
        "Det behövs fler parkeringsplatser vid stationen.",
        "Någon har ställt en släpvagn på parkeringsplatsen i veckor.",
    ], ["parkeringstillstånd", "parkeringsavgift"]),
    "parkeringsavgift": ([
        "Varför har parkeringsavgiften höjts igen?",
        "Parkeringsavgifterna i centrum är orimliga.",
        "Jag betalade parkeringsavgift men fick ändå bot.",
        "Vad kostar det att parkera vid $street?",
    ], ["parkering"]),
    "snöröjning": ([
        "När kommer snöröjningen till $street?",
        "Snöröjningen i $area är under all kritik.",
        "Plogbilen har inte varit här sedan $day.",
        "Varför plogas $area alltid sist?",
        "Snövallen efter plogningen blockerar infarten.",
        "Ingen snöröjning på gångvägen vid skolan.",
        "Plogningen av cykelvägarna fungerar inte alls.",
    ], ["halka"]),
    "halka": ([
        "Trottoaren på $street är spegelblank, ni måste sanda. @trottoar",
        "Det är livsfarligt halt vid busshållplatsen.",
        "Halkbekämpningen i $area har inte fungerat i vinter.",
        "Min mamma halkade vid $street $day.",
        "När sandas gångvägarna i $area?",
    ], ["snöröjning"]),
    "bygglov": ([
        "Hur lång är handläggningstiden för bygglov just nu? @handläggningstid",
        "Behöver jag bygglov för ett attefallshus?",
        "Vi har väntat på beslut om bygglovet sedan i våras.",
        "Grannen bygger ett garage utan bygglov på $street.",
        "Hur många bygglov beviljades förra året?",
        "Vår bygglovsansökan har legat i flera månader. @ansökan",
        "Vad kostar ett bygglov för en carport?",
    ], ["handläggningstid"]),
    "handläggningstid": ([
        "Handläggningstiden för bygglov är orimlig. @bygglov",
        "Vilka handläggningstider gäller för ansökan om färdtjänst? @ansökan",
        "Varför är handläggningstiderna så långa hos er?",
        "Hur lång handläggningstid har ni på ekonomiskt bistånd? @försörjningsstöd",
    ], ["bygglov"]),
    "busshållplats": ([
        "Busshållplatsen vid $street har inget väderskydd.",
        "Hållplatsen för bussen har flyttats utan förvarning.",
        "Busshållplatserna i $area är dåligt upplysta.",
        "Det behövs en busshållplats närmare äldreboendet.",
        "Snövallen blockerar busshållplatsen på $street.",
        "Varför har bussen slutat stanna vid hållplatsen i $area? @buss",
    ], []),
    "simhall": ([
        "Vilka är öppettiderna på simhallen $day? @öppettider",
        "Varför är simhallen stängd hela veckan?",
        "Simhallens bastu har varit trasig länge.",
        "Kommunens simhallar borde öppna tidigare.",
        "Vattnet i simhallen var iskallt $day.",
        "När börjar simskolan i simhallen i $area?",
    ], ["öppettider"]),
    "bibliotek": ([
        "Biblioteket i $area har för korta öppettider. @öppettider",
        "Kan biblioteket köpa in fler ljudböcker? @bok",
        "Biblioteken borde vara öppna på söndagar.",
        "Stadsbiblioteket är stängt för renovering.",
        "Bibliotekets wifi fungerar inte.",
        "Meröppna biblioteket i $area går inte att komma in i.",
    ], ["bok", "lånekort"]),
    "bok": ([
        "Jag har lämnat tillbaka boken men står fortfarande som lånare.",
        "Finns det böcker på ukrainska?",
        "Böckerna i barnavdelningen är slitna.",
        "Kan man låna e-böcker via appen?",
        "Min son tappade en bok på bussen, vad kostar det?",
    ], ["bibliotek"]),
    "lånekort": ([
        "Jag har tappat mitt lånekort, hur får jag ett nytt?",
        "Lånekortet fungerar inte i automaten.",
        "Kan barn få egna lånekort utan förälder?",
        "Vad kostar ett nytt lånekort?",
    ], ["bibliotek"]),
    "lekplats": ([
        "Lekplatsen i $area behöver nya gungor.",
        "Gungorna på lekplatsen vid $street är trasiga.",
        "Det finns krossat glas på lekplatsen.",
        "Varför stängs lekplatserna i $area?",
        "Kan ni bygga en lekplats för större barn?",
        "Lekplatsens sandlåda är full av kattbajs.",
    ], []),
    "gatlampa": ([
        "Gatlampan utanför $street 12 är trasig.",
        "Flera gatlampor i $area lyser inte.",
        "Gatlamporna på $street blinkar hela natten.",
        "Gatubelysningen på gångvägen är släckt sedan $day.",
        "När byts den trasiga gatlampan vid skolan?",
    ], []),
    "vattenläcka": ([
        "Det läcker vatten ur en brunn på $street.",
        "Vattenläckan vid $street har inte lagats.",
        "Vi har inget vatten, är det en vattenläcka i $area?",
        "Hur många vattenläckor har ni haft i år?",
        "Vattenläckorna i $area orsakar stora problem.",
    ], []),
    "skolskjuts": ([
        "Skolskjutsen kom inte i morse, barnen fick vänta i kylan.",
        "Hur ansöker man om skolskjuts? @ansökan",
        "Skolbussen till $area är alltid försenad.",
        "Skolskjutsens chaufför kör alldeles för fort.",
        "Har skolskjutsarna nya tider efter lovet?",
        "Skolbussen stannade inte vid $street $day.",
    ], []),
    "skolmat": ([
        "Varför serveras så dålig skolmat?",
        "Skolmaten innehöll nötter trots allergin.",
        "Kan skolmaten bli mer vegetarisk?",
        "Barnen säger att maten i skolan är kall.",
        "Vem bestämmer skolmatens meny?",
    ], []),
    "äldreboende": ([
        "Min pappa har väntat på plats på äldreboende i ett halvår.",
        "Äldreboendet i $area har för lite personal.",
        "Hur många äldreboenden finns i kommunen?",
        "Maten på äldreboendet är kall.",
        "Äldreboendenas besökstider har ändrats.",
    ], ["hemtjänst"]),
    "hemtjänst": ([
        "Hemtjänsten kom inte till min mamma $day.",
        "Hur ansöker man om hemtjänst? @ansökan",
        "Hemtjänstens personal byts ut hela tiden.",
        "Vad kostar hemtjänst per månad?",
        "Hemtjänstpersonalen har inte tid med min far.",
    ], ["äldreboende"]),
    "försörjningsstöd": ([
        "Hur ansöker jag om försörjningsstöd? @ansökan",
        "Mitt försörjningsstöd har inte betalats ut.",
        "Vem har rätt till ekonomiskt bistånd?",
        "Beslutet om ekonomiskt bistånd dröjer.",
        "Försörjningsstödet räcker inte till hyran.",
    ], []),
    "vägarbete": ([
        "Hur länge håller vägarbetet på $street på?",
        "Vägarbetena i $area skapar enorma köer.",
        "Vägarbetet vid skolan är farligt för barnen.",
        "Varför pågår det vägarbeten på natten?",
        "Det är vägarbete på $street igen.",
    ], []),
    "övergångsställe": ([
        "Övergångsstället vid $street är farligt.",
        "Bilarna stannar aldrig vid övergångsstället vid skolan.",
        "Kan ni måla om övergångsställena i $area?",
        "Det behövs ett övergångsställe vid busshållplatsen.",
        "Övergångsställets belysning är trasig.",
    ], []),
    "hundrastgård": ([
        "Hundrastgården i $area har ett hål i staketet.",
        "Kan ni bygga en hundrastgård i $area?",
        "Hundrastgårdarna töms aldrig på hundbajs.",
        "Hundrastgårdens grind går inte att stänga.",
    ], []),
    "återvinningscentral": ([
        "När öppnar återvinningscentralen $day?",
        "Återvinningscentralen hade en kö på en timme.",
        "Vilka återvinningscentraler tar emot gips?",
        "Kan man lämna möbler på ÅVC:n?",
        "Tippen borde ha öppet på kvällarna.",
    ], ["återvinningsstation"]),
    "återvinningsstation": ([
        "Återvinningsstationen på $street är överfull.",
        "Containrarna på återvinningsstationen töms för sällan. @tömma",
        "Kan ni flytta återvinningsstationen från $street?",
        "Återvinningsstationerna i $area är nedskräpade.",
    ], ["återvinningscentral"]),
    "badplats": ([
        "Badplatsen i $area är full av alger.",
        "När kommer bryggan tillbaka på badplatsen?",
        "Vilka badplatser har livräddare i sommar?",
        "Badplatsernas toaletter är stängda.",
        "Det är glas i sanden på badplatsen vid $street.",
    ], []),
    "fritidsgård": ([
        "Fritidsgården i $area borde ha öppet längre.",
        "Varför läggs fritidsgårdarna ner?",
        "Min dotter trivs så bra på fritidsgården.",
        "Fritidsgårdens personal är jättebra.",
    ], ["ungdom"]),
    "ungdom": ([
        "Ungdomar samlas och bråkar vid $street på kvällarna.",
        "Finns det sommarjobb för ungdomar?",
        "Ungdomarna i $area har ingenstans att vara.",
        "Vad gör kommunen för ungdomen?",
    ], ["fritidsgård"]),
    "elev": ([
        "Eleverna i årskurs 5 har inga läroböcker. @bok",
        "En elev blev mobbad på rasten och ingen gjorde något.",
        "Hur många elever går i varje klass?",
        "Elevens rätt till studiehandledning följs inte.",
        "Elevernas toaletter är i fruktansvärt skick.",
    ], ["lärare", "rektor"]),
    "lärare": ([
        "Läraren svarar inte på mina mejl.",
        "Lärarna har inte tid med barnen.",
        "Varför byts lärare ut så ofta?",
        "Lärarens bemötande var oacceptabelt.",
        "Det saknas behöriga lärare i matte.",
    ], ["elev", "rektor"]),
    "rektor": ([
        "Rektorn svarar inte på telefon.",
        "Vem är rektor på skolan i $area?",
        "Rektorns beslut om avstängning är fel.",
        "Varför har skolan haft tre rektorer på ett år?",
    ], ["lärare"]),
    "tömma": ([
        "Papperskorgen vid $street har inte tömts på tre veckor.",
        "Latrinen töms aldrig i tid.",
        "När tömde ni brunnen senast?",
        "Ni måste tömma papperskorgarna i parken oftare. @park",
        "Slamtömningen är beställd men ingen har kommit.",
    ], ["sopor"]),
    "ansökan": ([
        "Jag skickade min ansökan $day men har inte fått svar.",
        "Hur ansöker jag om bostadsanpassning?",
        "Min ansökan om färdtjänst fick avslag.",
        "Hur många ansökningar har ni fått om sommarjobb?",
        "Jag har ansökt tre gånger utan svar.",
    ], []),
    "avgift": ([
        "Varför har avgiften för fritids höjts?",
        "Avgifterna för äldreomsorgen är för höga.",
        "Vad kostar avgiften för bygglov? @bygglov",
        "Jag har betalat avgiften två gånger.",
        "Taxan för vatten och avlopp har höjts igen.",
    ], ["parkeringsavgift", "faktura"]),
    "faktura": ([
        "Jag har fått en faktura jag inte förstår.",
        "Fakturan för vatten var dubbelt så hög som vanligt.",
        "Varför kommer fakturorna så sent?",
        "Kan man få fakturan via e-post?",
        "Fakturans förfallodag har redan passerat.",
    ], ["avgift"]),
    "felanmälan": ([
        "Jag har gjort en felanmälan men inget händer.",
        "Hur gör jag en felanmälan om trasig gatlampa? @gatlampa",
        "Felanmälningar i appen försvinner.",
        "Felanmälan om hålet i vägen gjordes för en månad sedan. @potthål",
    ], []),
    "trottoar": ([
        "Trottoaren på $street är trasig.",
        "Bilar parkerar på trottoaren vid skolan.",
        "Trottoarerna i $area snöröjs aldrig. @snöröjning",
        "Gångbanan vid $street är full av gropar.",
        "Gångbanorna är för smala för barnvagnar.",
    ], []),
    "träd": ([
        "Trädet utanför vårt fönster håller på att falla.",
        "Varför fäller ni träden i parken? @park",
        "Ett träd har blåst omkull över $street.",
        "Trädens rötter förstör asfalten.",
        "Kan kommunen plantera fler träd i $area?",
    ], []),
    "buss": ([
        "Bussen till $area är alltid sen.",
        "Bussarna går för sällan på kvällen.",
        "Varför går det ingen buss på söndagar?",
        "Bussens chaufför var otrevlig $day.",
        "Kan bussarna gå oftare till sjukhuset?",
    ], ["busshållplats"]),
    "öppettider": ([
        "Vilka är öppettiderna i receptionen?",
        "Öppettiderna på hemsidan stämmer inte.",
        "Kan medborgarkontoret ha längre öppettider?",
        "Vad har ni för öppettid i jul?",
    ], ["simhall"]),
    "vaccination": ([
        "Var kan man boka tid för vaccination i $area?",
        "Är vaccinationen gratis för pensionärer?",
        "Hur många vaccinationer behöver barnen?",
        "Vaccinationsbokningen fungerar inte.",
        "Skolans vaccinationer flyttades utan besked.",
    ], []),
    "politiker": ([
        "Politikerna lyssnar aldrig på oss i $area.",
        "Vilka politiker sitter i nämnden?",
        "En politiker lovade en ny skola som aldrig kom.",
        "Politikernas löner borde sänkas.",
    ], []),
    "tomt": ([
        "Vi vill köpa en tomt i $area, finns det lediga?",
        "Tomten bredvid oss är full av skräp.",
        "Hur många tomter säljs i nya området?",
        "Tomtkön är orimligt lång.",
    ], []),
    "park": ([
        "Parken vid $street är nedskräpad.",
        "Parkerna i $area behöver fler bänkar.",
        "Kan ni ha konserter i parken i sommar?",
        "Parkens fontän har varit avstängd i ett år.",
    ], []),
    "potthål": ([
        "Potthålet på $street förstörde min fälg.",
        "Det är fullt av potthål i $area.",
        "När lagas potthålen på infarten?",
        "Ett stort potthål har öppnat sig vid rondellen.",
    ], ["felanmälan"]),
    "mögel": ([
        "Det finns mögel i klassrummet.",
        "Möglet i förskolans källare gör barnen sjuka. @förskola",
        "Vem ansvarar för mögel i kommunens lägenheter?",
        "Vi har hittat mögelfläckar i badrummet på fritids.",
    ], []),
    "matavfall": ([
        "Matavfallet luktar fruktansvärt i sommarvärmen.",
        "Var får man tag på påsar för matavfall?",
        "Matavfallspåsarna tog slut i butiken.",
        "Hur ofta hämtas matavfallet i $area?",
    ], ["sopor"]),
    "skolgård": ([
        "Skolgården i $area behöver mer grönska.",
        "Skolgårdarna är för små för alla elever.",
        "Skolgårdens asfalt är full av sprickor.",
        "Ungdomar röker på skolgården på kvällarna.",
    ], []),
    "detaljplan": ([
        "När antas detaljplanen för $area?",
        "Detaljplanerna borde publiceras tydligare.",
        "Jag vill lämna synpunkter på detaljplanen för $street.",
        "Vad innebär den nya detaljplanen för vår tomt? @tomt",
    ], []),
    "bredband": ([
        "När får $area bredband via fiber?",
        "Bredbandet har legat nere sedan $day.",
        "Kommunens bredbandsutbyggnad går för långsamt.",
        "Finns det stöd för bredband på landsbygden?",
    ], []),
}

# Messages about nothing in the topics; some hold lookalikes of topic words.
OTHER = [
    "Det finns spor av svamp i källaren.",
    "Sopa trappan innan ni går!",
    "Tomtebloss är förbjudna inne i gymnastiksalen.",
    "Bilen har kört fast i leran vid $street.",
    "Kortet i automaten fungerar inte.",
    "Vi har tömt förrådet och lämnat nycklarna.",
    "Tack för snabbt svar!",
    "Hej, jag undrar hur man kontaktar socialtjänsten.",
    "Bra jobbat med julmarknaden!",
    "Fin bild på Instagram idag.",
    "Hur blir man volontär?",
    "Grattis till priset som bästa kommun!",
    "Kommer det fyrverkerier på nyårsafton?",
    "Vem kan jag prata med om en anställning?",
    "Tack för hjälpen med ärendet.",
    "Varför svarar ingen i telefonväxeln?",
    "Jag vill anmäla en trasig bänk i $area.",
    "Var kan man hyra en lokal för kalas?",
    "Kan ni lägga ut protokollen från mötet?",
    "Har ni några lediga lägenheter?",
    "Jag vill klaga på bemötandet i receptionen.",
    "Busig katt har klättrat upp i en lyktstolpe.",
    "Det parkerar en husbil framför vårt hus.",
    "Parkera inte framför garaget!",
    "Lampor till julgranen på torget saknas.",
    "Spåren i elljusspåret behöver preparas.",
    "Hur långt är elljusspåret?",
    "Kommunen borde satsa mer på kultur.",
    "Hälsningar från en nöjd invånare.",
    "Tack för en bra sommar!",
]

QUERIES = [
    # (query, topic, variant)
    ("förskola", "förskola", "base"), ("förskolor", "förskola", "inflected"),
    ("forskola", "förskola", "folded"), ("forskolorna", "förskola", "folded"),
    ("förskolla", "förskola", "typo"),
    ("inskolning", "inskolning", "base"), ("inskolningarna", "inskolning", "inflected"),
    ("inskolnigen", "inskolning", "typo"),
    ("cykelbana", "cykelbana", "base"), ("cykelbanor", "cykelbana", "inflected"),
    ("cykelbanorna", "cykelbana", "inflected"), ("cykelbnaan", "cykelbana", "typo"),
    ("soptunna", "soptunna", "base"), ("soptunnor", "soptunna", "inflected"),
    ("soptunan", "soptunna", "typo"), ("sopkärl", "soptunna", "synonym"),
    ("sopor", "sopor", "base"), ("soporna", "sopor", "inflected"),
    ("avfall", "sopor", "synonym"), ("hushallsavfall", "sopor", "synonym"),
    ("sophämtning", "sophämtning", "base"), ("sophamtningen", "sophämtning", "folded"),
    ("sophämtnig", "sophämtning", "typo"),
    ("parkeringstillstånd", "parkeringstillstånd", "base"),
    ("parkeringstillstand", "parkeringstillstånd", "folded"),
    ("parkeringstilstånd", "parkeringstillstånd", "typo"),
    ("tillstånd parkering", "parkeringstillstånd", "compound"),
    ("parkering", "parkering", "base"), ("parkeringar", "parkering", "inflected"),
    ("parkeringsplatserna", "parkering", "inflected"), ("parkerign", "parkering", "typo"),
    ("parkeringsavgift", "parkeringsavgift", "base"),
    ("parkeringsavgifter", "parkeringsavgift", "inflected"),
    ("snöröjning", "snöröjning", "base"), ("snorojningen", "snöröjning", "folded"),
    ("snöröjnig", "snöröjning", "typo"), ("plogning", "snöröjning", "synonym"),
    ("halka", "halka", "base"), ("halkbekampning", "halka", "folded"),
    ("bygglov", "bygglov", "base"), ("bygglovet", "bygglov", "inflected"),
    ("bygglovsansökningar", "bygglov", "inflected"), ("bygglvo", "bygglov", "typo"),
    ("handläggningstid", "handläggningstid", "base"),
    ("handlaggningstiden", "handläggningstid", "folded"),
    ("handläggningtid", "handläggningstid", "typo"),
    ("busshållplats", "busshållplats", "base"), ("busshallplatsen", "busshållplats", "folded"),
    ("busshållplatserna", "busshållplats", "inflected"),
    ("hållplats buss", "busshållplats", "compound"),
    ("simhall", "simhall", "base"), ("simhallarna", "simhall", "inflected"),
    ("simhalen", "simhall", "typo"),
    ("bibliotek", "bibliotek", "base"), ("biblioteken", "bibliotek", "inflected"),
    ("bibloteket", "bibliotek", "typo"),
    ("bok", "bok", "base"), ("böcker", "bok", "inflected"), ("bocker", "bok", "folded"),
    ("boken", "bok", "inflected"),
    ("lånekort", "lånekort", "base"), ("lanekortet", "lånekort", "folded"),
    ("lånekorten", "lånekort", "inflected"),
    ("lekplats", "lekplats", "base"), ("lekplatserna", "lekplats", "inflected"),
    ("lekplatsn", "lekplats", "typo"),
    ("gatlampa", "gatlampa", "base"), ("gatlampor", "gatlampa", "inflected"),
    ("gatlamporna", "gatlampa", "inflected"), ("gatubelysning", "gatlampa", "synonym"),
    ("vattenläcka", "vattenläcka", "base"), ("vattenlacka", "vattenläcka", "folded"),
    ("vattenläckor", "vattenläcka", "inflected"),
    ("skolskjuts", "skolskjuts", "base"), ("skolskjutsarna", "skolskjuts", "inflected"),
    ("skolbuss", "skolskjuts", "synonym"), ("skolskutsen", "skolskjuts", "typo"),
    ("skolmat", "skolmat", "base"), ("skolmaten", "skolmat", "inflected"),
    ("skolmatn", "skolmat", "typo"),
    ("äldreboende", "äldreboende", "base"), ("aldreboenden", "äldreboende", "folded"),
    ("äldreboendena", "äldreboende", "inflected"), ("äldreboedne", "äldreboende", "typo"),
    ("hemtjänst", "hemtjänst", "base"), ("hemtjansten", "hemtjänst", "folded"),
    ("försörjningsstöd", "försörjningsstöd", "base"),
    ("forsorjningsstod", "försörjningsstöd", "folded"),
    ("ekonomiskt bistånd", "försörjningsstöd", "synonym"),
    ("vägarbete", "vägarbete", "base"), ("vägarbeten", "vägarbete", "inflected"),
    ("vagarbetena", "vägarbete", "folded"),
    ("övergångsställe", "övergångsställe", "base"),
    ("overgangsstallet", "övergångsställe", "folded"),
    ("övergångställe", "övergångsställe", "typo"),
    ("övergångsställena", "övergångsställe", "inflected"),
    ("hundrastgård", "hundrastgård", "base"), ("hundrastgardar", "hundrastgård", "folded"),
    ("återvinningscentral", "återvinningscentral", "base"),
    ("atervinningscentralen", "återvinningscentral", "folded"),
    ("åvc", "återvinningscentral", "synonym"),
    ("återvinningsstation", "återvinningsstation", "base"),
    ("återvinningsstationerna", "återvinningsstation", "inflected"),
    ("badplats", "badplats", "base"), ("badplatserna", "badplats", "inflected"),
    ("badplatsen", "badplats", "inflected"),
    ("fritidsgård", "fritidsgård", "base"), ("fritidsgardarna", "fritidsgård", "folded"),
    ("ungdomar", "ungdom", "base"), ("ungdomarna", "ungdom", "inflected"),
    ("ungdom", "ungdom", "inflected"),
    ("elev", "elev", "base"), ("eleverna", "elev", "inflected"), ("elevernas", "elev", "inflected"),
    ("lärare", "lärare", "base"), ("lararna", "lärare", "folded"),
    ("lärarens", "lärare", "inflected"),
    ("rektor", "rektor", "base"), ("rektorn", "rektor", "inflected"),
    ("rektorerna", "rektor", "inflected"),
    ("tömma", "tömma", "base"), ("tömts", "tömma", "inflected"), ("tomde", "tömma", "folded"),
    ("töms", "tömma", "inflected"),
    ("ansökan", "ansökan", "base"), ("ansöka", "ansökan", "inflected"),
    ("ansokningar", "ansökan", "folded"),
    ("avgift", "avgift", "base"), ("avgifterna", "avgift", "inflected"),
    ("avgfit", "avgift", "typo"),
    ("faktura", "faktura", "base"), ("fakturorna", "faktura", "inflected"),
    ("fakutra", "faktura", "typo"),
    ("felanmälan", "felanmälan", "base"), ("felanmalan", "felanmälan", "folded"),
    ("felanmälningar", "felanmälan", "inflected"),
    ("trottoar", "trottoar", "base"), ("trottoarerna", "trottoar", "inflected"),
    ("gångbana", "trottoar", "synonym"),
    ("träd", "träd", "base"), ("traden", "träd", "folded"), ("trädet", "träd", "inflected"),
    ("buss", "buss", "base"), ("bussarna", "buss", "inflected"), ("bussens", "buss", "inflected"),
    ("öppettider", "öppettider", "base"), ("oppettider", "öppettider", "folded"),
    ("öppetider", "öppettider", "typo"),
    ("vaccination", "vaccination", "base"), ("vacination", "vaccination", "typo"),
    ("vaccinationerna", "vaccination", "inflected"),
    ("politiker", "politiker", "base"), ("politikerna", "politiker", "inflected"),
    ("tomt", "tomt", "base"), ("tomterna", "tomt", "inflected"),
    ("park", "park", "base"), ("parkerna", "park", "inflected"),
    ("potthål", "potthål", "base"), ("potthalen", "potthål", "folded"),
    ("mögel", "mögel", "base"), ("moglet", "mögel", "folded"),
    ("matavfall", "matavfall", "base"), ("matavfallspåsar", "matavfall", "compound"),
    ("skolgård", "skolgård", "base"), ("skolgardarna", "skolgård", "folded"),
    ("detaljplan", "detaljplan", "base"), ("detaljplanerna", "detaljplan", "inflected"),
    ("bredband", "bredband", "base"), ("bredbandet", "bredband", "inflected"),
]
# A topic and a place (the place its messages name most often; `fold`: typed without å/ä/ö):
# relevant are the topic's messages that name the place.
MULTIWORD = [
    ("förskola", "förskola", False), ("cykelbanor", "cykelbana", False),
    ("sopor", "sopor", False), ("snöröjning", "snöröjning", False),
    ("lekplats", "lekplats", False), ("gatlampor", "gatlampa", False),
    ("vattenläcka", "vattenläcka", False), ("badplats", "badplats", False),
    ("bibliotek", "bibliotek", False), ("parkering", "parkering", False),
    ("vägarbete", "vägarbete", False), ("trottoarer", "trottoar", False),
    ("hundrastgard", "hundrastgård", True), ("aldreboende", "äldreboende", True),
    ("skolgård", "skolgård", False),
]
# The organisation's synonym list the bench also runs with.
SYNONYMS = [
    "sopor ~ avfall ~ hushållsavfall ~ hushållssopor",
    "soptunna ~ sopkärl ~ kärl",
    "snöröjning ~ plogning",
    "gatlampa ~ gatubelysning",
    "skolskjuts ~ skolbuss",
    "försörjningsstöd ~ ekonomiskt bistånd",
    "återvinningscentral ~ ÅVC ~ tippen",
    "trottoar ~ gångbana",
]


def fill(sentence, r):
    place = None
    sentence = sentence.split(" @")[0]
    if "$area" in sentence:
        place = r.choice(AREAS)
        sentence = sentence.replace("$area", place)
    sentence = sentence.replace("$street", r.choice(STREETS))
    sentence = sentence.replace("$day", r.choice(DAYS))
    return sentence, place


def message(sentence, r):
    text, place = fill(sentence, r)
    parts = []
    if r.random() < 0.5:
        parts.append(r.choice(OPENERS))
    parts.append(text)
    if r.random() < 0.3:
        parts.append(r.choice(FILLERS))
    if r.random() < 0.4:
        parts.append(r.choice(CLOSERS))
    return " ".join(parts), place


def main():
    r = random.Random(20261118)
    rows = []  # (text, topic, place)
    for topic, (sentences, _) in TOPICS.items():
        for s in sentences:
            # A sentence about another topic too says so: `… @topic`.
            topics = {topic} | {t for t in s.split(" @")[1:]}
            # Two messages of each sentence, three when it names a place (for multiword).
            for _ in range(3 if "$area" in s else 2):
                text, place = message(s, r)
                rows.append((text, topics, place))
    for s in OTHER:
        for _ in range(3):
            text, place = message(s, r)
            rows.append((text, set(), place))
    r.shuffle(rows)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "corpus.tsv"), "w", encoding="utf-8") as f:
        f.write("id\ttext\n")
        for i, (text, _, _) in enumerate(rows, 1):
            f.write(f"{i}\t{text}\n")

    def judged(topic, place=None):
        related = TOPICS[topic][1]
        out = []
        for i, (_, topics, p) in enumerate(rows, 1):
            if topic in topics and (place is None or p == place):
                out.append(f"{i}:2")
            elif topics & set(related) and place is None:
                out.append(f"{i}:1")
        return ",".join(out)

    with open(os.path.join(here, "queries.tsv"), "w", encoding="utf-8") as f:
        f.write("query\tvariant\trelevant\n")
        for q, topic, variant in QUERIES:
            f.write(f"{q}\t{variant}\t{judged(topic)}\n")
        for words, topic, folded in MULTIWORD:
            places = [p for _, topics, p in rows if topic in topics and p]
            place = max(sorted(set(places)), key=places.count)
            shown = place.replace("å", "a").replace("ä", "a").replace("ö", "o") if folded else place
            f.write(f"{words} {shown}\tmultiword\t{judged(topic, place)}\n")
    with open(os.path.join(here, "synonyms.txt"), "w", encoding="utf-8") as f:
        f.write("# The synonym groups the search bench runs with (one group a line, terms by ~).\n")
        for g in SYNONYMS:
            f.write(g + "\n")
    print(f"{len(rows)} messages, {len(QUERIES) + len(MULTIWORD)} queries")


if __name__ == "__main__":
    main()
